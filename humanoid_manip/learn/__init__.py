"""Behaviour cloning (PyTorch), ONNX export: the only package that imports torch.

Import the submodules (`learn.train`, `learn.export`, …); `learn.config`, `learn.dataset` and
`learn.toy` need only numpy, so a CLI can read settings without torch installed.
"""
