"""``hydra/launcher=joblib`` for genreclf: see :mod:`genreclf.sweeps.launcher`."""

from genreclf.sweeps.launcher import ResilientJoblibLauncher as _Launcher


class ResilientJoblibLauncher(_Launcher):
    """Hydra's joblib launcher, where a dead worker costs only its own job."""
