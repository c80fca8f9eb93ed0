// gsm8k_test: tests of harness/probe/gsm8k.hpp.
