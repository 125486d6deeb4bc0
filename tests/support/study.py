"""The jopt-compare tests' one configuration of the study: 40 steps, 2 seeds (the deck
claims need two to judge), seed 3. A run at the same steps and seeds reuses the compiled
programs of an earlier one in the same process, so the tests share this size."""

STEPS, SEEDS, SEED = 40, 2, 3
FAST = ["--steps", str(STEPS), "--seed", str(SEED), "--seeds", str(SEEDS)]
