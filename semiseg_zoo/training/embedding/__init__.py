"""Embedding networks (SPOCO): the loss, the training loop with the momentum network, the job
from a spec or users' folders to a package.

Import the modules directly (``semiseg_zoo.training.embedding.job`` ...): this package
imports nothing, so that using one kind does not load the others."""
