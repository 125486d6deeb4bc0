"""The README's code runs as printed."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import pytest

import jopt

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def python_blocks():
    return re.findall(r"```python\n(.*?)```", README, flags=re.S)


def test_ten_line_example_trains():
    code = python_blocks()[0]
    assert "jopt" in code and "optax.chain" in code and "nnx.Optimizer" in code
    scope = {}
    exec(compile(code, "README.md", "exec"), scope)
    x = jax.random.normal(jax.random.key(0), (32, 64), jnp.float32)
    y = jnp.arange(32, dtype=jnp.int32) % 10
    losses = [float(scope["step"](scope["model"], scope["optimizer"], x, y)) for _ in range(20)]
    assert losses[-1] < losses[0]
    assert float(jopt.get_learning_rate(scope["optimizer"].opt_state)) == 1e-2


def test_ci_installs_and_tests_as_the_readme_says():
    # .ci/run installs with the README's first command and runs its second (the tests);
    # the first command's main job, jopt-compare, runs in tests/compare/test_cli.py (fewer
    # steps).
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    block = re.search(r"## Two commands\n\n```bash\n(.*?)```", README, flags=re.S).group(1)
    install_and_main, test = [line.split("#")[0].strip() for line in block.strip().splitlines()]
    install = install_and_main.split("&&")[0].strip()
    assert install_and_main.endswith("jopt-compare")
    assert install in ci and f"\n{test}\n" in ci


def test_readme_lists_every_public_optimizer_schedule_and_preset():
    import jopt.compat.bitsandbytes as jb
    import jopt.compat.keras as jk
    import jopt.compat.torch as jt
    import jopt.compat.torchao as jao

    # Whole names only (a bare substring test finds "lamb" in "lambda", "swa" in "swalr"):
    # a function as jopt.name or `name`, a schedule called, a preset by its full path.
    names = [
        rf"(jopt\.|`){n}\b"
        for n in jopt.__all__
        if n[0].islower() and n not in {"testing", "schedules", "compat"}
    ]
    names += [rf"\b{s}\(" for s in jopt.schedules.__all__]
    names += [rf"jopt\.compat\.torch\.{n}`" for n in jt.__all__]
    names += [rf"jopt\.compat\.keras\.{n}`" for n in jk.__all__]
    names += [rf"jopt\.compat\.bitsandbytes\.{n}`" for n in jb.__all__]
    names += [rf"jopt\.compat\.torchao\.{n}`" for n in jao.__all__]
    missing = [n for n in names if not re.search(n, README)]
    assert not missing, f"README does not mention: {missing}"


def test_readme_check_sees_a_name_only_inside_a_longer_one(monkeypatch):
    # The check above fails for a README that names lamb only inside "lambda".
    monkeypatch.setattr(sys.modules[__name__], "README", "lambda `swalr` optax.lion")
    with pytest.raises(AssertionError, match="lamb"):
        test_readme_lists_every_public_optimizer_schedule_and_preset()


def test_mesh_example_runs_each_layout():
    # 8 virtual CPU devices (conftest.py); the block as printed, then a step of it.
    code = next(b for b in python_blocks() if "state_shardings" in b)
    scope = {"loss_fn": lambda p, batch: jnp.sum((batch @ p["w"] + p["b"]) ** 2)}
    exec(compile(code, "README.md", "exec"), scope)
    assert scope["state"][0].mu["w"].sharding.is_equivalent_to(scope["split"], 2)  # ZeRO-1
    batch = jax.device_put(jnp.ones((16, 1024)), scope["split"])  # the params' dtype
    params, state = scope["train_step"](scope["params"], scope["state"], batch)
    assert state[0].nu["w"].addressable_shards[0].data.shape == (128, 512)
    assert params["w"].sharding.is_fully_replicated
    params, state = scope["train_step"](params, state, batch)
    assert scope["train_step"]._cache_size() == 1  # the second step reused the first's
