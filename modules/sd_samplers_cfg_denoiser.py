"""A1111's `modules.sd_samplers_cfg_denoiser`: `CFGDenoiser` (what the cfg callbacks get as
`params.denoiser`, `sdwebui.engine.sampling.denoiser`) and the cond helpers."""
from modules._facade import expose

expose(__name__, extra=[('CFGDenoiser', 'sdwebui.services.legacy.samplers'), ('catenate_conds', 'sdwebui.services.legacy.samplers'), ('subscript_cond', 'sdwebui.services.legacy.samplers'), ('pad_cond', 'sdwebui.services.legacy.samplers')])
