// fetch_data_test: tests of harness/probe/fetch_data.hpp.
