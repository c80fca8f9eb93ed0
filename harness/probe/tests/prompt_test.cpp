// prompt_test: tests of harness/probe/prompt.hpp.
