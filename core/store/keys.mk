# core/store: API keys and usage
