"""Optimizer state on a device mesh: the shardings of ``tx.init(params)``, ZeRO-1 included.

Every jopt optimizer already builds its state where its parameters live (each moment
with its parameter's sharding, scalars replicated), eagerly and under ``jit``. This
package says so ahead of time, as a tree of ``NamedSharding``\\ s to hand to ``jax.jit``
(``out_shardings`` of ``tx.init``, in/out shardings of a train step), and can split the
state further over a data-parallel axis (ZeRO-1). It reads where each state leaf goes
from the state's declaration: a field annotated :data:`PerParam` mirrors the parameters,
a statistic field annotated :class:`Reduced` keeps all but one axis of its parameter;
:func:`declare` declares a state class defined elsewhere.

Everything about meshes lives here: :func:`state_shardings`, the per-leaf resharding of
a step whose state is split apart from its gradients (``_leafwise``), where new state
goes (``_placement``) and the mesh checks of :func:`jopt.testing.check_transformation`
(``_testing``).
"""

from jopt._core.layout import PER_PARAM as PER_PARAM
from jopt._core.layout import Blocks as Blocks
from jopt._core.layout import PerParam as PerParam
from jopt._core.layout import PerParamMarker as PerParamMarker
from jopt._core.layout import Reduced as Reduced
from jopt._core.layout import declare as declare
from jopt.sharding._shardings import state_shardings as state_shardings

__all__ = [
    "PER_PARAM",
    "Blocks",
    "PerParam",
    "PerParamMarker",
    "Reduced",
    "declare",
    "state_shardings",
]
