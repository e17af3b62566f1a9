"""The typed configuration: the checked, frozen :class:`~genreclf.config.runconfig.RunConfig`
of a run (:mod:`.runconfig`), the up-front check that makes it (:mod:`.checks`), and the
declarations read from source for the check that answers before torch loads
(:mod:`.declared`)."""
