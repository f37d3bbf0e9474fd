"""The tasks seqtrain knows. This dict is the only place a task name is looked up."""

from seqtrain.tasks.hello import HelloTask
from seqtrain.tasks.pos import PosTask
from seqtrain.tasks.sincos import SinCosTask
from seqtrain.tasks.tang import TangTask

TASKS = {
    "hello": HelloTask,
    "pos": PosTask,
    "sincos": SinCosTask,
    "tang": TangTask,
}
