"""Low-precision parameters: transforms placed last in a chain that decide how an update
lands on a bfloat16 parameter (stochastic rounding, Kahan summation)."""
