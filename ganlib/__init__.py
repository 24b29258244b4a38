"""ganlib: the helper package of the gan-course notebooks (1-D GANs whose truth is known exactly)."""

from ganlib.config import PRESETS, Config, course_seed, preset
from ganlib.distributions import ideal_generator, make_noise, make_target
from ganlib.metrics import RunResult, evaluate, label_run, summarize_runs, w1_samples, w1_to_target
from ganlib.train import History, Trainer, TrainResult, train

__version__ = "0.1.0"

__all__ = ["Config", "PRESETS", "preset", "course_seed", "make_target", "make_noise", "ideal_generator", "evaluate",
           "label_run", "summarize_runs", "w1_samples", "w1_to_target", "RunResult", "Trainer", "History",
           "TrainResult", "train", "__version__"]
