"""The offline model's reading of questions: pure-text helpers with no model, network or sandbox behind them."""
