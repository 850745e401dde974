"""Merging layers: combine a list of tensors (`keras.layers.Add`, `Concatenate`, `Dot`, ...)
and their functional forms (`keras.layers.add([a, b])`)."""

from rskeras.layers.merging.add import Add, add
from rskeras.layers.merging.average import Average, average
from rskeras.layers.merging.base_merge import Merge
from rskeras.layers.merging.concatenate import Concatenate, concatenate
from rskeras.layers.merging.dot import Dot, dot
from rskeras.layers.merging.maximum import Maximum, maximum
from rskeras.layers.merging.minimum import Minimum, minimum
from rskeras.layers.merging.multiply import Multiply, multiply
from rskeras.layers.merging.subtract import Subtract, subtract

__all__ = ["Add", "Average", "Concatenate", "Dot", "Maximum", "Merge", "Minimum", "Multiply",
           "Subtract", "add", "average", "concatenate", "dot", "maximum", "minimum", "multiply",
           "subtract"]
