"""A version-2 network trains and exports to ONNX with parity, through the run directory.

The builder's functional graph (a residual block with a projection and one
with an identity shortcut), ``sep``, ``dw``, ``b``/``B`` and bare items, and a
"same"-padded strided pool, trained for one epoch by ``cnnspec.run.train`` on
real image files and exported by ``cnnspec.deploy.export`` (tf2onnx, then
ONNX Runtime against Keras on the run's own images).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

SPEC = "C: 8b [8sepb 8sepB]+R [16s2b dwI n 16In]+R p3s2z [16 T]+ gap D: n 8bR O: 3"


@pytest.mark.slow
def test_a_v2_network_trains_and_exports_with_parity(keras, tmp_path: Path) -> None:
    from export_support import make_images

    import cnnspec
    import cnnspec.run.train as train_mod
    from cnnspec.deploy.export import export

    data = make_images(tmp_path / "data", 3, (16, 16, 3), per_class=6)
    result = train_mod.train(
        SPEC,
        data,
        train_mod.TrainOptions(epochs=1, batch_size=6, out=str(tmp_path / "run")),
        out_dir=tmp_path / "run",
        progress="quiet",
    )
    run = Path(result.run_dir)
    model = keras.saving.load_model(run / "model.keras")
    checked = cnnspec.check(cnnspec.parse(SPEC), (16, 16, 3), 3)
    assert model.count_params() == checked.total_params
    kinds = {type(layer).__name__ for layer in model.layers}
    assert {"SeparableConv2D", "DepthwiseConv2D", "Add", "Activation", "BatchNormalization"} <= kinds
    assert np.isfinite(model.predict(np.zeros((1, 16, 16, 3), np.float32), verbose=0)).all()

    report = export(run, tmp_path / "model.onnx")
    assert "random" not in report.sample
    assert report.max_abs_diff is not None and report.max_abs_diff <= 1e-5
    assert report.classes_agree == report.sample_size
