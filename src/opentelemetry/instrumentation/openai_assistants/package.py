_instruments = ("openai >= 3.50, < 4",)
_supports_metrics = True
