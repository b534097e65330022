"""An example diffbench model plugin: a small dilated convolutional network.

diffbench discovers the models of this package through the ``diffbench.models`` entry points in
its ``pyproject.toml``; nothing here imports diffbench.
"""

from diffbench_plugin_example.convnet import TinyConvNet, wide_convnet

__all__ = ["TinyConvNet", "wide_convnet"]
__version__ = "0.1.0"
