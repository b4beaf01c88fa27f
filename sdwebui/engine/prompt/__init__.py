"""A1111's prompt language and its encoding.

Parsing needs no torch. Four independent stages, applied by the caller (``encoding``) in this order:

1. :func:`extra_networks.strip_extra_networks` removes ``<name:arg1:arg2...>`` tags (``<lora:x:0.8>``).
2. :func:`composable.get_multicond_prompt_list` splits a prompt into composable-diffusion parts
   on the word ``AND`` (uppercase, on word boundaries), each with an optional
   ``:weight`` suffix.
3. :func:`scheduling.get_learned_conditioning_prompt_schedules` expands prompt editing
   (``[from:to:when]``, ``[to:when]``, ``[from::when]``) and alternation
   (``[a|b|c]``) into the plain prompt text in force for each range of sampling steps.
4. :func:`attention.parse_prompt_attention` turns one plain prompt text into ``(text, weight)``
   spans: ``(a)`` x1.1, ``[a]`` /1.1, ``(a:w)`` xw, and the ``BREAK`` marker.

Stage 3 keeps attention syntax (and escapes) verbatim in its output, so stage 4 runs on
the text of every scheduled step.

Behaviour follows AUTOMATIC1111's webui (1.6+) including its quirks; the few deliberate
differences are listed in the modules' and functions' docstrings.
"""
