"""The ground floor: errors, the console, stop signals, file names, optional extras,
typed parameter declarations and the registries. Nothing here imports another part of
genreclf."""
