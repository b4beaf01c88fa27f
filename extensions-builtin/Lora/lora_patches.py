"""The Lora built-in's `lora_patches` module. A1111 replaces torch.nn's forward methods to add the
networks at run time; this web UI merges them into the weights instead and patches nothing, so
`LoraPatches` only holds the original methods (extensions call them through `networks.originals`)."""
import torch


class LoraPatches:
    def __init__(self) -> None:
        self.Linear_forward = torch.nn.Linear.forward
        self.Linear_load_state_dict = torch.nn.Linear._load_from_state_dict
        self.Conv2d_forward = torch.nn.Conv2d.forward
        self.Conv2d_load_state_dict = torch.nn.Conv2d._load_from_state_dict
        self.GroupNorm_forward = torch.nn.GroupNorm.forward
        self.GroupNorm_load_state_dict = torch.nn.GroupNorm._load_from_state_dict
        self.LayerNorm_forward = torch.nn.LayerNorm.forward
        self.LayerNorm_load_state_dict = torch.nn.LayerNorm._load_from_state_dict
        self.MultiheadAttention_forward = torch.nn.MultiheadAttention.forward
        self.MultiheadAttention_load_state_dict = torch.nn.MultiheadAttention._load_from_state_dict

    def undo(self) -> None:
        """Nothing was patched, so nothing to undo."""
