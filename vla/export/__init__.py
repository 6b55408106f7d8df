"""Export of the policy for edge devices (ONNX; see ``vla.export.onnx_export``)."""

from vla.export.onnx_export import ExportConfig, PolicyGraph, export_onnx
from vla.export.parity import ParityReport, check_parity

__all__ = ["ExportConfig", "ParityReport", "PolicyGraph", "check_parity", "export_onnx"]
