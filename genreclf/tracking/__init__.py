"""Tracking: MLflow and nothing else (``conf/tracking/``).

- :mod:`~genreclf.tracking.names`: every tag, metric and artifact name;
- :mod:`~genreclf.tracking.store`: :class:`Store`, the one MLflow client, with the one
  retry layer (:mod:`~genreclf.tracking.retry`);
- :mod:`~genreclf.tracking.run`: a training job's run, written in batches, always ended;
- :mod:`~genreclf.tracking.models`: model folders logged, registered, found and fetched;
- :mod:`~genreclf.tracking.selection`: which run is best (``best:``, reports, sweeps);
- :mod:`~genreclf.tracking.history`, :mod:`~genreclf.tracking.artifacts`: curves read
  back, files logged.

Nothing here imports torch, librosa or matplotlib, and nothing sets MLflow's global
tracking URI.
"""

from genreclf.tracking.store import Store, flatten_params

__all__ = ["Store", "flatten_params"]
