// gsm8k_synth_test: tests of harness/probe/gsm8k_synth.hpp.
