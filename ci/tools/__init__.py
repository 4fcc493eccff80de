"""Developer helpers: the ONNX field table generator (`gen_onnx_fields`) and a throwaway dev venv
(`dev_install.sh`)."""
