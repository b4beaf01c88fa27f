"""A1111's settings category "System": the console, the profiler, the API, and the hidden options that hold state."""
from __future__ import annotations

from sdwebui.services.options.info import OptionHTML, OptionInfo, options_section

_PROFILER = "generation is not profiled (modules.profiling.Profiler reads the setting for an extension that uses it)"

# keys kept, saved and shown, that nothing here acts on -> why (docs/compatibility.md lists them)
INERT: dict[str, str] = {
    "auto_launch_browser": "the browser is opened only by --autolaunch",
    "enable_console_prompts": "prompts are not printed to the console",
    "show_warnings": "Python warnings follow the logging setup",
    "show_gradio_deprecation_warnings": "gradio's warnings follow the logging setup",
    "samples_log_stdout": "generation info is logged, not printed",
    "enable_upscale_progressbar": "tiled upscaling shows no console progress bar",
    "print_hypernet_extra": "hypernetworks are not supported",
    "list_hidden_files": "model files in hidden folders are always listed",
    "disable_mmap_load_safetensors": "safetensors files are always memory-mapped",
    "hide_ldm_prints": "there are no ldm/sgm modules to silence",
    "dump_stacks_on_signal": "ctrl+c stops without dumping stacks",
    "profiling_enable": _PROFILER,
    "profiling_activities": _PROFILER,
    "profiling_record_shapes": _PROFILER,
    "profiling_profile_memory": _PROFILER,
    "profiling_with_stack": _PROFILER,
    "profiling_filename": _PROFILER,
    "api_enable_requests": "the API takes images as base64 only, never fetches URLs",
    "api_forbid_local_requests": "the API takes images as base64 only, never fetches URLs",
    "api_useragent": "the API takes images as base64 only, never fetches URLs",
}

PROFILING_EXPLANATION = """
These settings would run the torch profiler during generation and write one trace file per image,
viewable in chrome://tracing or on ui.perfetto.dev. Writing a trace is slow and the file is large.
"""


def options() -> dict[str, OptionInfo]:
    t: dict[str, OptionInfo] = {}

    t.update(options_section(("system", "System", "system"), {
        "auto_launch_browser": OptionInfo("Local", "Automatically open webui in browser on startup", "radio", choices=("Disable", "Local", "Remote")),
        "enable_console_prompts": OptionInfo(False, "Print prompts to console when generating with txt2img and img2img.", "checkbox"),
        "show_warnings": OptionInfo(False, "Show warnings in console.", "checkbox").needs_reload_ui(),
        "show_gradio_deprecation_warnings": OptionInfo(True, "Show gradio deprecation warnings in console.", "checkbox").needs_reload_ui(),
        "memmon_poll_rate": OptionInfo(8, "VRAM usage polls per second during generation.", "slider", component_args={"minimum": 0, "maximum": 40, "step": 1}),
        "samples_log_stdout": OptionInfo(False, "Always print all generation info to standard output", "checkbox"),
        "multiple_tqdm": OptionInfo(True, "Add a second progress bar to the console that shows progress for an entire job.", "checkbox"),
        "enable_upscale_progressbar": OptionInfo(True, "Show a progress bar in the console for tiled upscaling.", "checkbox"),
        "print_hypernet_extra": OptionInfo(False, "Print extra hypernetwork information to console.", "checkbox"),
        "list_hidden_files": OptionInfo(True, "Load models/files in hidden directories", "checkbox"),
        "disable_mmap_load_safetensors": OptionInfo(False, "Disable memmapping for loading .safetensors files.", "checkbox"),
        "hide_ldm_prints": OptionInfo(True, "Prevent Stability-AI's ldm/sgm modules from printing noise to console.", "checkbox"),
        "dump_stacks_on_signal": OptionInfo(False, "Print stack traces before exiting the program with ctrl+c.", "checkbox"),
    }))

    t.update(options_section(("profiler", "Profiler", "system"), {
        "profiling_explanation": OptionHTML(PROFILING_EXPLANATION),
        "profiling_enable": OptionInfo(False, "Enable profiling", "checkbox"),
        "profiling_activities": OptionInfo(["CPU"], "Activities", "checkboxgroup", choices=("CPU", "CUDA")),
        "profiling_record_shapes": OptionInfo(True, "Record shapes", "checkbox"),
        "profiling_profile_memory": OptionInfo(True, "Profile memory", "checkbox"),
        "profiling_with_stack": OptionInfo(True, "Include python stack", "checkbox"),
        "profiling_filename": OptionInfo("trace.json", "Profile filename", "textbox"),
    }))

    t.update(options_section(("API", "API", "system"), {
        "api_enable_requests": OptionInfo(True, "Allow http:// and https:// URLs for input images in API", "checkbox", restrict_api=True),
        "api_forbid_local_requests": OptionInfo(True, "Forbid URLs to local resources", "checkbox", restrict_api=True),
        "api_useragent": OptionInfo("", "User agent for requests", "textbox", restrict_api=True),
    }))

    # state the app keeps (the extensions' switches, the resident checkpoint's hash); A1111 leaves
    # them out of the Settings tab
    t.update(options_section((None, "Hidden options"), {
        "disabled_extensions": OptionInfo([], "Disable these extensions", "dropdown"),
        "disable_all_extensions": OptionInfo("none", "Disable all extensions (preserves the list of disabled extensions)", "radio", choices=("none", "extra", "all")),
        "restore_config_state_file": OptionInfo("", "Config state file to restore from, under 'config-states/' folder", "textbox"),
        "sd_checkpoint_hash": OptionInfo("", "SHA256 hash of the current checkpoint", "textbox"),
    }))
    return t
