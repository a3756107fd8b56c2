"""shallow2deep: source data, many Random Forests' maps, the enhancer and the pseudo-label
network, the job from a spec or users' folders to a package.

Import the modules directly (``semiseg_zoo.training.enhancer.job`` ...): this package
imports nothing, so that using one kind does not load the others."""
