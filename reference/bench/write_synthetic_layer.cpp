// Writes a random GPT-OSS-120b-sized MoE layer as a Hugging Face checkpoint folder
// (model.safetensors with layer 0's tensors, config.json) plus hidden.safetensors, so that the
// real `mxguard reference` command can be timed and its peak memory measured (peak_memory.sh).
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>

#include "reference/bench/synthetic_layer.hpp"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s OUT_DIR TOKENS\n  writes OUT_DIR/model.safetensors, config.json, hidden.safetensors\n",
                 argv[0]);
    return 2;
  }
  try {
    const std::filesystem::path dir = argv[1];
    const long tokens = std::strtol(argv[2], nullptr, 10);
    if (tokens < 1) {
      std::fprintf(stderr, "TOKENS must be a positive integer, got '%s'\n", argv[2]);
      return 2;
    }
    std::filesystem::create_directories(dir);
    const auto c = mxg::ref::bench::gptoss120b_config();
    mxg::write_safetensors(dir / "model.safetensors",
                           mxg::ref::bench::checkpoint_tensors(mxg::ref::bench::synthetic_weights(c, 1), 0));
    mxg::write_safetensors(dir / "hidden.safetensors",
                           {{"hidden_states", mxg::ref::bench::synthetic_hidden(tokens, c.hidden, 2)}});
    std::ofstream(dir / "config.json") << "{\"hidden_size\": " << c.hidden << ", \"intermediate_size\": " << c.intermediate
                                       << ", \"num_local_experts\": " << c.experts
                                       << ", \"num_experts_per_tok\": " << c.topk << ", \"swiglu_limit\": 7.0}\n";
  } catch (const std::exception& e) {
    std::fprintf(stderr, "write_synthetic_layer: %s\n", e.what());
    return 3;
  }
  return 0;
}
