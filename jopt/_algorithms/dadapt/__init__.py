"""Learning-rate-free methods: Prodigy and D-Adaptation (a global step-size estimate d)."""
