"""ganlib.config: validation (one ValueError naming field and value), immutability, presets, dict round trip."""

from __future__ import annotations

import dataclasses
import json
import math
import re

import numpy as np
import pytest

from ganlib import config as cfg
from ganlib.config import PRESETS, Config, preset

# (field, bad value, the "field=value" text the message must contain)
BAD = [
    ("target_std", 0.0, "target_std=0.0"),
    ("target_std", -1.25, "target_std=-1.25"),
    ("target_std", math.nan, "target_std=nan"),
    ("target_mean", math.inf, "target_mean=inf"),
    ("target_mean", 2e6, "target_mean=2000000.0"),
    ("d_lr", 0.0, "d_lr=0.0"),
    ("d_lr", -1e-3, "d_lr=-0.001"),
    ("d_lr", math.nan, "d_lr=nan"),
    ("g_lr", math.inf, "g_lr=inf"),
    ("g_lr", 0, "g_lr=0"),
    ("g_lr", "0.01", "g_lr='0.01'"),
    ("batch_size", 1, "batch_size=1"),
    ("batch_size", 0, "batch_size=0"),
    ("batch_size", 16.0, "batch_size=16.0"),
    ("target", "gauss", "target='gauss'"),
    ("noise", "cauchy", "noise='cauchy'"),
    ("features", "histogram", "features='histogram'"),
    ("loss", "hinge", "loss='hinge'"),
    ("g_objective", "maximin", "g_objective='maximin'"),
    ("d_optimizer", "adamw", "d_optimizer='adamw'"),
    ("g_optimizer", "lbfgs", "g_optimizer='lbfgs'"),
    ("generator", "per_batch", "generator='per_batch'"),
    ("clip", 0.0, "clip=0.0"),
    ("clip", -0.01, "clip=-0.01"),
    ("gp_weight", 0.0, "gp_weight=0.0"),
    ("gp_side", "both", "gp_side='both'"),
    ("seeds", 0, "seeds=0"),
    ("seeds", -3, "seeds=-3"),
    ("seeds", cfg.MAX_SEEDS + 1, f"seeds={cfg.MAX_SEEDS + 1}"),
    ("seed", -1, "seed=-1"),
    ("seed", cfg.MAX_SEED + 1, f"seed={cfg.MAX_SEED + 1}"),
    ("rounds", -1, "rounds=-1"),
    ("eval_every", 0, "eval_every=0"),
    ("eval_samples", 99, "eval_samples=99"),
    ("d_steps", 0, "d_steps=0"),
    ("sets", 0, "sets=0"),
    ("noise_dim", 0, "noise_dim=0"),
    ("d_beta1", 1.0, "d_beta1=1.0"),
    ("g_beta2", -0.1, "g_beta2=-0.1"),
    ("d_momentum", 1.5, "d_momentum=1.5"),
    ("lr_decay", 0.0, "lr_decay=0.0"),
    ("lr_decay", 1.5, "lr_decay=1.5"),
    ("device", "tpu", "device='tpu'"),
    ("dtype", "float16", "dtype='float16'"),
    # bool is an int subclass in Python; a checkbox value must not pass for a count or a number.
    ("seeds", True, "seeds=True"),
    ("rounds", False, "rounds=False"),
    ("noise_dim", True, "noise_dim=True"),
    ("d_lr", True, "d_lr=True"),
    ("target_mean", True, "target_mean=True"),
    ("normalize", 1, "normalize=1"),
    ("normalize", "yes", "normalize='yes'"),
    # layer specs: tuples only, widths in range, one activation per hidden layer, known names
    ("g_hidden", [50, 50], "g_hidden=[50, 50]"),
    ("g_hidden", (), "g_hidden=()"),
    ("g_hidden", (50, 0), "g_hidden=0"),
    ("d_hidden", (50, True), "d_hidden=True"),
    ("d_activations", ("elu", "swish"), "d_activations='swish'"),
    ("g_activations", ("elu",), "g_activations=('elu',)"),
    ("d_activations", ("elu", "elu", "elu"), "d_activations=('elu', 'elu', 'elu')"),
    ("g_activations", "elu", "g_activations='elu'"),
    # the mixture's separation: 0 <= s < 1, a plain number
    ("mixture_separation", 1.0, "mixture_separation=1.0"),
    ("mixture_separation", -0.1, "mixture_separation=-0.1"),
    ("mixture_separation", math.nan, "mixture_separation=nan"),
    ("mixture_separation", True, "mixture_separation=True"),
    ("mixture_separation", "0.9", "mixture_separation='0.9'"),
    # minibatch discrimination's T: B kernels of C dimensions
    ("minibatch_kernels", 0, "minibatch_kernels=0"),
    ("minibatch_kernels", cfg.MAX_MINIBATCH + 1, f"minibatch_kernels={cfg.MAX_MINIBATCH + 1}"),
    ("minibatch_dims", 0, "minibatch_dims=0"),
    ("minibatch_dims", 2.0, "minibatch_dims=2.0"),
    # the critic warm-up: a tuple of three integers (n_steps, first_g, every) in range
    ("critic_warmup", (100, 25), "critic_warmup=(100, 25)"),
    ("critic_warmup", (100, 25, 500, 1), "critic_warmup=(100, 25, 500, 1)"),
    ("critic_warmup", [100, 25, 500], "critic_warmup=[100, 25, 500]"),
    ("critic_warmup", "100,25,500", "critic_warmup='100,25,500'"),
    ("critic_warmup", (100, -1, 500), "critic_warmup=(100, -1, 500)"),
    ("critic_warmup", (cfg.MAX_WARMUP_STEPS + 1, 25, 500), f"critic_warmup=({cfg.MAX_WARMUP_STEPS + 1}, 25, 500)"),
    ("critic_warmup", (100, 25, cfg.MAX_ROUNDS + 1), f"critic_warmup=(100, 25, {cfg.MAX_ROUNDS + 1})"),
    ("critic_warmup", (100.0, 25, 500), "critic_warmup=(100.0, 25, 500)"),
    ("critic_warmup", (True, 25, 500), "critic_warmup=(True, 25, 500)"),
    # issue 26: the R1 penalty and spectral normalisation of D
    ("d_penalty", "r2", "d_penalty='r2'"),
    ("d_penalty", None, "d_penalty=None"),
    ("r1_gamma", -1, "r1_gamma=-1"),
    ("r1_gamma", 0.0, "r1_gamma=0.0"),
    ("r1_gamma", math.nan, "r1_gamma=nan"),
    ("r1_gamma", math.inf, "r1_gamma=inf"),
    ("r1_gamma", cfg.MAX_R1_GAMMA * 2, f"r1_gamma={cfg.MAX_R1_GAMMA * 2!r}"),
    ("r1_gamma", True, "r1_gamma=True"),
    ("r1_gamma", "1", "r1_gamma='1'"),
    ("spectral_norm", 1, "spectral_norm=1"),
    ("spectral_norm", "yes", "spectral_norm='yes'"),
]


@pytest.mark.parametrize(("field", "value", "text"), BAD, ids=[f"{f}={v!r}" for f, v, _ in BAD])
def test_bad_value_raises_valueerror_naming_field_and_value(field, value, text):
    with pytest.raises(ValueError, match=re.escape(text)):
        Config(**{field: value})


def test_moment_features_need_a_batch_of_three():
    # Batches of 2 are fine for a D that sees raw values, not for one that sees a spread.
    assert Config(features="sorted", batch_size=2).batch_size == 2
    spread = [f for f in cfg.FEATURES if f not in ("value", "batch", "sorted", "sorted_real", "minibatch")]
    assert {"meanstd", "moments", "batch+moments", "diffs"} <= set(spread)
    for features in spread:
        with pytest.raises(ValueError, match=re.escape("batch_size=2")):
            Config(features=features, batch_size=2)
        assert Config(features=features, batch_size=3).batch_size == 3


def test_separation_messages_state_the_range():
    with pytest.raises(ValueError, match=re.escape("mixture_separation=1.0 is not allowed: a finite number in [0, 1)")):
        Config(target="mixture", mixture_separation=1.0)
    assert Config(mixture_separation=0.0).mixture_separation == 0.0
    assert Config(mixture_separation=0.999).mixture_separation == 0.999
    assert Config().mixture_separation == 0.8  # the course's first mixture
    assert Config(features="minibatch", batch_size=2).batch_size == 2


def test_boundary_values_are_accepted():
    c = Config(target_std=1e-6, d_lr=10.0, g_lr=1e-12, batch_size=2, seeds=1, rounds=0, d_beta1=0.0,
               d_momentum=0.999, lr_decay=1.0, seed=2**32 - 1, device="cuda:1",
               d_hidden=(1,), d_activations=("relu",))
    assert (c.target_std, c.d_lr, c.batch_size, c.rounds, c.seed, c.device) == (1e-6, 10.0, 2, 0, 2**32 - 1, "cuda:1")
    # The extreme mean with the default std: std 1e-6 there is only 8,600 float64 spacings (refused, see below).
    assert Config(target_mean=-1e6).target_mean == -1e6


def test_mismatched_layers_pass_when_activations_follow():
    c = Config(g_hidden=(3, 4, 5), g_activations=("tanh", "relu", "identity"))
    assert c.g_hidden == (3, 4, 5)


def test_config_is_frozen():
    c = Config()
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.d_lr = 1.0  # type: ignore[misc]
    assert c.d_lr == Config().d_lr


def test_replace_changes_copy_and_keeps_original():
    c = Config()
    d = c.replace(d_lr=1e-4, seeds=2)
    assert (d.d_lr, d.seeds) == (1e-4, 2)
    assert (c.d_lr, c.seeds) == (Config().d_lr, Config().seeds)
    assert d.replace(d_lr=c.d_lr, seeds=c.seeds) == c


def test_replace_validates():
    with pytest.raises(ValueError, match=re.escape("d_lr=-1.0")):
        Config().replace(d_lr=-1.0)
    with pytest.raises(ValueError, match=re.escape("g_activations=('elu', 'sigmoid')")):
        Config().replace(g_hidden=(5,))


def test_replace_rejects_unknown_fields():
    with pytest.raises(ValueError, match="unknown config field.*bogus.*lr"):
        Config().replace(bogus=1, lr=2)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_dict_round_trip_through_json(name):
    c = preset(name)
    d = c.to_dict()
    assert all(not isinstance(v, tuple) for v in d.values())
    again = Config.from_dict(json.loads(json.dumps(d)))
    assert again == c
    assert again.g_hidden == c.g_hidden and isinstance(again.g_hidden, tuple)


def test_to_dict_has_every_field():
    assert set(Config().to_dict()) == {f.name for f in dataclasses.fields(Config)}


def test_from_dict_rejects_unknown_and_validates():
    with pytest.raises(ValueError, match="unknown config field.*colour"):
        Config.from_dict({**Config().to_dict(), "colour": "red"})
    with pytest.raises(ValueError, match=re.escape("seeds=0")):
        Config.from_dict({"seeds": 0})
    assert Config.from_dict({}) == Config()


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_builds_with_its_fields(name):
    c = preset(name)
    assert c == Config(**PRESETS[name])
    for key, value in PRESETS[name].items():
        assert getattr(c, key) == value, key
    assert preset(name, seeds=2, rounds=7).replace(seeds=c.seeds, rounds=c.rounds) == c


def test_recommended_preset_is_the_defaults():
    assert preset("recommended") == Config()


def test_unknown_preset_raises():
    with pytest.raises(ValueError, match=re.escape("preset='nope'")):
        preset("nope")


def test_preset_override_is_validated():
    with pytest.raises(ValueError, match=re.escape("d_lr=0")):
        preset("devnag", d_lr=0)


def test_choice_lists_match_the_modules_that_implement_them():
    from ganlib.features import FEATURE_MAPS
    from ganlib.models import ACTIVATION_FNS
    from ganlib.optim import KINDS

    assert set(cfg.FEATURES) == set(FEATURE_MAPS)
    assert set(cfg.ACTIVATIONS) == set(ACTIVATION_FNS)
    assert set(cfg.OPTIMIZERS) == set(KINDS)


@pytest.mark.parametrize("device", ["cuda:abc", "cudafoo", "cuda:"])
def test_device_must_be_cpu_cuda_or_cuda_n(device):
    with pytest.raises(ValueError, match=re.escape(f"device={device!r}")):
        Config(device=device)


def test_course_seed_reads_the_environment_and_rejects_bad_values(monkeypatch) -> None:
    from ganlib.config import MAX_COURSE_SEED, course_seed

    monkeypatch.delenv("GAN_COURSE_SEED", raising=False)
    assert course_seed() == 0 and course_seed(7) == 7
    monkeypatch.setenv("GAN_COURSE_SEED", " 1000 ")
    assert course_seed() == 1000
    # The runs of a notebook use seed + k: the largest course seed leaves room for MAX_SEEDS of them.
    monkeypatch.setenv("GAN_COURSE_SEED", str(MAX_COURSE_SEED))
    assert Config(seed=course_seed(), seeds=4096).seed == MAX_COURSE_SEED
    for bad in ("-1", "1.5", "abc", str(MAX_COURSE_SEED + 1)):
        monkeypatch.setenv("GAN_COURSE_SEED", bad)
        with pytest.raises(ValueError, match="GAN_COURSE_SEED=.* is not allowed"):
            course_seed()


@pytest.mark.parametrize(("field", "value"), [("d_lr", 10**400), ("target_mean", -(10**400)), ("clip", 10**309),
                                              ("target_std", 10**400)], ids=["d_lr", "target_mean", "clip", "std"])
def test_huge_integers_for_numbers_name_the_field_on_one_line(field, value):
    # float(10**400) overflows: the check must report the field, not let an OverflowError escape, and keep the
    # message a short line rather than printing 400 digits.
    with pytest.raises(ValueError, match=f"^{field}=") as exc:
        Config(**{field: value})
    message = str(exc.value)
    assert "\n" not in message and len(message) < 200


def test_numpy_scalars_are_accepted_and_stored_as_python_types():
    import numpy as np

    c = Config(seeds=np.int64(5), rounds=np.int32(7), d_lr=np.float32(1e-3), g_lr=np.float64(2e-3),
               target_mean=np.int16(3), target_std=np.float16(0.5), g_hidden=(np.int64(8), np.uint8(9)),
               g_activations=(np.str_("elu"), "tanh"), normalize=np.bool_(False), features=np.str_("value"))
    assert (c.seeds, c.rounds, c.g_hidden, c.target_mean) == (5, 7, (8, 9), 3)
    assert c.d_lr == float(np.float32(1e-3)) and c.target_std == 0.5 and c.normalize is False
    for name in ("seeds", "rounds", "target_mean"):
        assert type(getattr(c, name)) is int, name
    for name in ("d_lr", "g_lr", "target_std"):
        assert type(getattr(c, name)) is float, name
    assert all(type(w) is int for w in c.g_hidden) and type(c.features) is str
    assert type(c.g_activations[0]) is str
    # JSON cannot write numpy scalars: a stored one would break `to_dict` for the CLI's --json.
    assert Config.from_dict(json.loads(json.dumps(c.to_dict()))) == c
    assert c == Config(seeds=5, rounds=7, d_lr=float(np.float32(1e-3)), g_lr=2e-3, target_mean=3, target_std=0.5,
                       g_hidden=(8, 9), g_activations=("elu", "tanh"), normalize=False, features="value")
    assert Config().replace(sets=np.int64(2)).sets == 2


@pytest.mark.parametrize(("field", "value", "text"), [
    ("seeds", "np.float64(5.0)", "seeds=5.0"),
    ("d_lr", "np.float32('nan')", "d_lr=nan"),
    ("seeds", "np.int64(0)", "seeds=0"),
    ("normalize", "np.int64(1)", "normalize=1"),
    ("d_lr", "np.bool_(True)", "d_lr=True"),
])
def test_bad_numpy_scalars_are_still_rejected(field, value, text):
    import numpy as np

    with pytest.raises(ValueError, match=re.escape(text)):
        Config(**{field: eval(value, {"np": np})})


def test_critic_warmup_message_is_one_line_naming_the_field():
    with pytest.raises(ValueError) as exc:
        Config(critic_warmup=(5, 5))
    message = str(exc.value)
    assert "\n" not in message and message.startswith("critic_warmup=(5, 5) is not allowed: ")
    assert "(n_steps, first_g, every)" in message


def test_d_steps_at_follows_the_wgan_reference_schedule():
    # Arjovsky et al.'s main.py: Diters = 100 if gen_iterations < 25 or gen_iterations % 500 == 0 else 5.
    c = Config(d_steps=5, critic_warmup=(100, 25, 500))
    expected = {r: 100 if r < 25 or r % 500 == 0 else 5 for r in range(2001)}
    assert {r: c.d_steps_at(r) for r in range(2001)} == expected
    # Off (n_steps 0, whatever the rest), and without periodic warm-ups (every 0).
    cases = [((0, 0, 0), 0, 5), ((0, 25, 500), 0, 5), ((9, 3, 0), 2, 9), ((9, 3, 0), 3, 5), ((9, 3, 0), 600, 5)]
    for warm, r, steps in cases:
        assert Config(d_steps=5, critic_warmup=warm).d_steps_at(r) == steps, (warm, r)
    assert Config().critic_warmup == (0, 0, 0)
    # numpy integers (a slider's) are stored as Python ints, and JSON's list comes back as the tuple.
    import numpy as np

    c = Config(critic_warmup=(np.int64(100), np.int64(25), np.int64(500)))
    assert c.critic_warmup == (100, 25, 500) and all(type(v) is int for v in c.critic_warmup)
    assert Config.from_dict(json.loads(json.dumps(c.to_dict()))).critic_warmup == (100, 25, 500)


def test_wgan_presets_are_the_authors_settings():
    # WGAN (Arjovsky et al. 2017, Algorithm 1 and main.py): clip 0.01, RMSProp 5e-5, n_critic 5, the critic schedule.
    w = preset("wgan")
    assert (w.loss, w.clip, w.d_steps, w.critic_warmup) == ("wgan", 0.01, 5, (100, 25, 500))
    assert (w.d_optimizer, w.d_lr, w.g_optimizer, w.g_lr) == ("rmsprop", 5e-5, "rmsprop", 5e-5)
    # WGAN-GP (Gulrajani et al. 2017, Algorithm 1): alpha 1e-4, beta1 0, beta2 0.9, lambda 10, n_critic 5.
    gp = preset("wgan_gp")
    assert (gp.loss, gp.gp_weight, gp.d_steps, gp.critic_warmup) == ("wgan-gp", 10.0, 5, (0, 0, 0))
    for net in ("d", "g"):
        assert (getattr(gp, f"{net}_optimizer"), getattr(gp, f"{net}_lr")) == ("adam", 1e-4)
        assert (getattr(gp, f"{net}_beta1"), getattr(gp, f"{net}_beta2")) == (0.0, 0.9)


def test_every_field_has_one_line_of_help():
    # FIELD_HELP is the command line's --help; a field added without a line here fails this test.
    from ganlib.config import FIELD_HELP

    assert list(FIELD_HELP) == [f.name for f in dataclasses.fields(Config)]
    for name, text in FIELD_HELP.items():
        assert text.strip() and "\n" not in text and "%" not in text, name


@pytest.mark.parametrize(("mean", "std"), [(1e6, 1e-12), (1e6, 1e-5), (-1e6, 1e-5), (1.0, 1e-11), (0.0, 1e-310)])
def test_a_std_too_small_for_its_mean_is_refused(mean, std):
    # The spacing of float64 near |mean| is |mean| * 2.2e-16 (np.spacing): mean + std * z rounds to a handful of
    # numbers when std is near it. A std below 1e6 spacings, or below the smallest normal float, is refused.
    assert std < max(1e6 * np.spacing(abs(mean)), np.finfo(np.float64).tiny)
    with pytest.raises(ValueError, match="target_std") as exc:
        Config(target_mean=mean, target_std=std)
    assert "\n" not in str(exc.value)


@pytest.mark.parametrize(("mean", "std"), [(1e6, 1e-3), (4.0, 1e-9), (0.0, 1e-300)])
def test_a_std_that_float64_resolves_is_accepted(mean, std):
    assert std >= 1e6 * np.spacing(abs(mean))
    assert Config(target_mean=mean, target_std=std).target_std == std
    # and a sample of 10,000 keeps its shape: the rounded values' std is the unrounded one's to 1e-6.
    z = np.random.default_rng(0).standard_normal(10_000)
    assert np.std(mean + std * z) == pytest.approx(std * np.std(z), rel=1e-6)


def test_preset_with_an_unknown_field_is_one_line():
    with pytest.raises(ValueError, match="unknown config field.*bogus") as exc:
        preset("devnag", bogus=1)
    assert "\n" not in str(exc.value)


def test_r1_and_spectral_norm_default_off_and_bad_values_are_one_line():
    c = Config()
    assert (c.d_penalty, c.r1_gamma, c.spectral_norm) == ("none", 1.0, False)
    assert cfg.D_PENALTIES == ("none", "r1")
    ok = Config(d_penalty="r1", r1_gamma=cfg.MAX_R1_GAMMA, spectral_norm=True)
    assert (ok.d_penalty, ok.r1_gamma, ok.spectral_norm) == ("r1", cfg.MAX_R1_GAMMA, True)
    # numpy scalars from a slider are stored as the Python values they hold
    assert type(Config(r1_gamma=np.float32(0.5)).r1_gamma) is float
    assert Config(spectral_norm=np.bool_(True)).spectral_norm is True
    for bad, allowed in ((dict(r1_gamma=-1), "a finite number in (0, 10000]"),
                         (dict(d_penalty="R1"), "choose one of none, r1"),
                         (dict(spectral_norm=0), "True or False")):
        with pytest.raises(ValueError) as exc:
            Config(**bad)
        text = str(exc.value)
        (name, value), = bad.items()
        assert "\n" not in text and text == f"{name}={value!r} is not allowed: {allowed}", text
