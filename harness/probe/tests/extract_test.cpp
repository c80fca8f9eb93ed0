// extract_test: tests of harness/probe/extract.hpp.
