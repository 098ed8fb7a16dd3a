;;; cnnspec.el --- cnnspec specs in Emacs, checked by `cnnspec lsp' through eglot  -*- lexical-binding: t -*-
;; Load it from init.el: (load "/path/to/editors/emacs/cnnspec.el")
(require 'eglot)

(define-derived-mode cnn-mode prog-mode "cnn"
  "Major mode for cnnspec model specs."
  (setq-local comment-start "# ")
  (setq-local comment-start-skip "#+\\s-*"))

(add-to-list 'auto-mode-alist '("\\.cnn\\'" . cnn-mode))
(add-to-list 'eglot-server-programs '(cnn-mode . ("cnnspec" "lsp")))
(add-hook 'cnn-mode-hook #'eglot-ensure)
;;; cnnspec.el ends here
