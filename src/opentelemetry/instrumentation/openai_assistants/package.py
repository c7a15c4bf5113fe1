_instruments = ("openai >= 2.20, < 4",)
_supports_metrics = True
