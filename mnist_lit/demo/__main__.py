"""``python -m mnist_lit.demo --ckpt_path best``: the drawing demo."""

from mnist_lit.demo.app import main

if __name__ == "__main__":
    main()
