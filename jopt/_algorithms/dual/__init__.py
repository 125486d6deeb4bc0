"""Dual averaging: methods that step from the initial point by a weighted sum of gradients."""
