from .repvgg import DeployFormMismatch, RepVGG, RepVGGBlock

__all__ = ['DeployFormMismatch', 'RepVGG', 'RepVGGBlock']
