"""Hugging Face audio encoders as a feature set (``features=hf_encoder``)."""
