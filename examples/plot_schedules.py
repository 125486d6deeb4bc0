"""Draw every jopt schedule against the step, one panel each, into one PNG grid.

    python examples/plot_schedules.py                 # writes docs/schedules.png
    python examples/plot_schedules.py --out lr.png --steps 500

Each schedule is evaluated at all steps at once with ``jax.vmap``; the last panel runs
``reduce_lr_on_plateau`` on a simulated loss that stalls.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib
import numpy as np

matplotlib.use("Agg")  # files only; no display needed
import matplotlib.pyplot as plt  # noqa: E402

import jopt.compat.keras.schedules as ks  # noqa: E402
import jopt.schedules as schedules  # noqa: E402
from jopt import reduce_lr_on_plateau  # noqa: E402

DEFAULT_OUT = Path(__file__).resolve().parent.parent / "docs" / "schedules.png"


def panels(steps: int) -> list[tuple[str, dict]]:
    """(title, {label: schedule}) for every schedule, sized to ``steps``."""
    b, q = 0.1, steps // 4
    return [
        (
            "lambda_lr (LambdaLR)",
            {
                "warm-up then 0.99^k": schedules.lambda_lr(
                    b,
                    lambda k: jnp.where(
                        k < q // 2,
                        (k + 1).astype(float) / (q // 2),
                        0.99 ** (k - q // 2).astype(float),
                    ),
                ),
            },
        ),
        (
            "multiplicative_lr (MultiplicativeLR)",
            {
                "x0.95 every 10 steps": schedules.multiplicative_lr(
                    b, lambda k: jnp.where(k % 10 == 0, 0.95, 1.0)
                ),
            },
        ),
        (
            "step_lr (StepLR)",
            {
                f"step_size={q}, gamma=0.5": schedules.step_lr(b, q, 0.5),
                f"step_size={q // 3}, gamma=0.8": schedules.step_lr(b, q // 3, 0.8),
            },
        ),
        (
            "multi_step_lr (MultiStepLR)",
            {
                f"milestones=[{q}, {3 * q}]": schedules.multi_step_lr(b, [q, 3 * q]),
            },
        ),
        (
            "constant_lr (ConstantLR)",
            {
                f"factor=1/3, total_iters={q}": schedules.constant_lr(b, 1 / 3, q),
            },
        ),
        (
            "linear_lr (LinearLR)",
            {
                f"1/3 -> 1 over {q}": schedules.linear_lr(b, 1 / 3, 1.0, q),
                f"1 -> 0 over {3 * q}": schedules.linear_lr(b, 1.0, 0.0, 3 * q),
            },
        ),
        (
            "exponential_lr (ExponentialLR)",
            {
                "gamma=0.99": schedules.exponential_lr(b, 0.99),
                "gamma=0.995": schedules.exponential_lr(b, 0.995),
            },
        ),
        (
            "polynomial_lr (PolynomialLR)",
            {
                "power=1": schedules.polynomial_lr(b, 3 * q, 1.0),
                "power=2": schedules.polynomial_lr(b, 3 * q, 2.0),
                "power=0.5": schedules.polynomial_lr(b, 3 * q, 0.5),
            },
        ),
        (
            "cosine_annealing_lr (CosineAnnealingLR)",
            {
                f"t_max={2 * q}": schedules.cosine_annealing_lr(b, 2 * q),
                f"t_max={q}, eta_min=0.02": schedules.cosine_annealing_lr(b, q, 0.02),
            },
        ),
        (
            "cosine_annealing_warm_restarts",
            {
                f"t_0={q // 2}, t_mult=2": schedules.cosine_annealing_warm_restarts(b, q // 2, 2),
                f"t_0={q}": schedules.cosine_annealing_warm_restarts(b, q),
            },
        ),
        (
            "cyclic_lr (CyclicLR)",
            {
                "triangular": schedules.cyclic_lr(0.01, b, q // 3),
                "triangular2": schedules.cyclic_lr(0.01, b, q // 3, mode="triangular2"),
                "exp_range 0.995": schedules.cyclic_lr(
                    0.01, b, q // 3, mode="exp_range", gamma=0.995
                ),
            },
        ),
        (
            "one_cycle_lr (OneCycleLR)",
            {
                "cos": schedules.one_cycle_lr(b, steps),
                "linear, three_phase": schedules.one_cycle_lr(
                    b, steps, anneal_strategy="linear", three_phase=True
                ),
            },
        ),
        (
            "sequential_lr (SequentialLR)",
            {
                "linear warm-up, then cosine": schedules.sequential_lr(
                    [
                        schedules.linear_lr(b, 0.01, 1.0, q // 2),
                        schedules.cosine_annealing_lr(b, steps - q // 2),
                    ],
                    [q // 2],
                ),
            },
        ),
        (
            "chained_lr (ChainedScheduler)",
            {
                "step x exponential": schedules.chained_lr(
                    b, schedules.step_lr(1.0, q, 0.5), schedules.exponential_lr(1.0, 0.997)
                ),
            },
        ),
        (
            "inverse_time_decay (Keras decay)",
            {
                "decay=0.01": schedules.inverse_time_decay(b, 0.01),
                "decay=0.05": schedules.inverse_time_decay(b, 0.05),
            },
        ),
        (
            "momentum halves (cycle_momentum=True)",
            {
                "cyclic_momentum": schedules.cyclic_momentum(0.8, 0.9, q // 3),
                "one_cycle_momentum": schedules.one_cycle_momentum(steps),
            },
        ),
        (
            "swalr (SWALR) after cosine",
            {
                "cosine, then SWALR to 0.02": schedules.sequential_lr(
                    [
                        schedules.cosine_annealing_lr(b, 2 * steps),
                        schedules.swalr(
                            schedules.cosine_annealing_lr(b, 2 * steps)(2 * q), 0.02, q // 2
                        ),
                    ],
                    [2 * q],
                ),
            },
        ),
        (
            "keras.optimizers.schedules",
            {
                "CosineDecay, warm-up": ks.CosineDecay(
                    0.0, steps - q // 2, 0.1, warmup_target=b, warmup_steps=q // 2
                ),
                "CosineDecayRestarts": ks.CosineDecayRestarts(b, q // 3, m_mul=0.7),
                "PolynomialDecay, cycle": ks.PolynomialDecay(b, q, 0.01, 2.0, cycle=True),
                "PiecewiseConstantDecay": ks.PiecewiseConstantDecay([q, 2 * q], [b, b / 2, b / 5]),
            },
        ),
    ]


def plateau_curve(steps: int) -> tuple[np.ndarray, np.ndarray]:
    """A simulated loss that stalls, and lr 0.1 times reduce_lr_on_plateau's scale."""
    k = np.arange(steps)
    noise = np.random.default_rng(0).normal(size=steps)
    loss = np.exp(-k / (steps / 8)) + 0.2 + 0.01 * noise
    tx = reduce_lr_on_plateau(factor=0.5, patience=10)

    def step(state, v):
        _, state = tx.update(jnp.zeros(()), state, value=v)
        return state, state.scale

    _, scales = jax.lax.scan(step, tx.init(jnp.zeros(())), jnp.asarray(loss))
    return loss, 0.1 * np.asarray(scales)


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="PNG file to write")
    parser.add_argument("--steps", type=int, default=300, help="steps on the x axis")
    args = parser.parse_args(argv)

    counts = jnp.arange(args.steps, dtype=jnp.int32)
    grid = panels(args.steps)
    cols = 4
    rows = -(-(len(grid) + 1) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 2.6 * rows), sharex=True)
    axes = axes.ravel()
    for ax, (title, curves) in zip(axes, grid, strict=False):
        for label, schedule in curves.items():
            ax.plot(counts, jax.jit(jax.vmap(schedule))(counts), label=label, lw=1.5)
        ax.set_title(title, fontsize=10)
        ax.legend(fontsize=7, loc="upper right")

    ax = axes[len(grid)]
    loss, lr = plateau_curve(args.steps)
    ax.plot(counts, lr, label="lr 0.1 x scale (factor=0.5, patience=10)", lw=1.5)
    twin = ax.twinx()
    twin.plot(counts, loss, color="0.7", lw=0.8, label="monitored loss")
    twin.tick_params(labelsize=7)
    ax.set_title("reduce_lr_on_plateau (ReduceLROnPlateau)", fontsize=10)
    ax.legend(fontsize=7, loc="center right")
    for ax in axes[len(grid) + 1 :]:
        ax.set_visible(False)
    for ax in axes[-cols:]:
        ax.set_xlabel("step (count)", fontsize=8)
    fig.suptitle("jopt.schedules: learning rate against the step", fontsize=13)
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=72)
    plt.close(fig)
    print(f"wrote {args.out}")
    return args.out


if __name__ == "__main__":
    main()
