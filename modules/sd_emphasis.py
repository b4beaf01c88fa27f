"""A1111's `modules.sd_emphasis`: the emphasis modes (`sdwebui.services.legacy.networks`); the prompt
encoder applies them by name."""
from modules._facade import expose

expose(__name__, extra=[('Emphasis', 'sdwebui.services.legacy.networks'), ('EmphasisNone', 'sdwebui.services.legacy.networks'), ('EmphasisIgnore', 'sdwebui.services.legacy.networks'), ('EmphasisOriginal', 'sdwebui.services.legacy.networks'), ('EmphasisOriginalNoNorm', 'sdwebui.services.legacy.networks'), ('options', 'sdwebui.services.legacy.networks'), ('get_current_option', 'sdwebui.services.legacy.networks'), ('get_options_descriptions', 'sdwebui.services.legacy.networks')])
