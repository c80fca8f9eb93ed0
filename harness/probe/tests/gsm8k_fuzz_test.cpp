// gsm8k_fuzz_test: random mutations of GSM8K JSON Lines.
