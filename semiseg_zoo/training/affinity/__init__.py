"""Affinity networks (CRAC): targets, losses, sparse volume data, the training loop of the
implicit and explicit networks, the job from a spec or users' folders to a package.

Import the modules directly (``semiseg_zoo.training.affinity.job`` ...): this package
imports nothing, so that using one kind does not load the others."""
