// Probe configuration as JSON (what is included: run_config_json.hpp).
#include "harness/probe/run_config_json.hpp"

namespace mxg::probe {

nlohmann::json run_config_json(const ProbeConfig& c) {
  nlohmann::json j;
  j["base_url"] = c.http.base_url;
  j["api"] = std::string(api_name(c.api));
  j["model"] = c.model ? nlohmann::json(*c.model) : nlohmann::json(nullptr);
  j["api_key_env"] = c.api_key_env.empty() ? nlohmann::json(nullptr) : nlohmann::json(c.api_key_env);
  j["parallel"] = c.http.max_in_flight;
  j["timeout_s"] = c.http.timeout_s;
  j["retries"] = c.retry.retries;
  j["data"] = c.data.string();
  j["shots_from"] = c.shots_from == ShotSource::Train ? "train" : "test";
  j["train_data"] = c.train_data ? nlohmann::json(c.train_data->string()) : nlohmann::json(nullptr);
  j["num_shots"] = c.num_shots;
  j["num_questions"] = c.num_questions;
  j["seed"] = c.seed;
  j["extract"] = std::string(extractor_name(c.extractor));
  const SamplingParams& p = c.sampling;
  j["sampling"] = {{"max_new_tokens", p.max_new_tokens},
                   {"temperature", p.temperature},
                   {"top_p", p.top_p},
                   {"top_k", p.top_k},
                   {"min_p", p.min_p},
                   {"frequency_penalty", p.frequency_penalty},
                   {"presence_penalty", p.presence_penalty},
                   {"stop", p.stop},
                   {"skip_special_tokens", p.skip_special_tokens},
                   {"ignore_eos", p.ignore_eos},
                   {"top_logprobs", p.top_logprobs}};
  j["stop"] = c.stop == StopRule::Sprt ? "sprt" : c.stop == StopRule::Gate ? "gate" : "fixed";
  if (c.stop == StopRule::Sprt) {
    j["sprt"] = {{"p_good", c.sprt.p_good}, {"p_bad", c.sprt.p_bad}, {"alpha", c.sprt.alpha}, {"beta", c.sprt.beta}};
  }
  if (c.stop == StopRule::Gate) {
    j["gate"] = {{"p_good", c.gate.p_good}, {"p_bad", c.gate.p_collapse}, {"gate_alpha", c.gate.alpha},
                 {"collapse_alpha", c.gate.collapse_alpha}};
  }
  j["min_accuracy"] = c.min_accuracy ? nlohmann::json(*c.min_accuracy) : nlohmann::json(nullptr);
  j["baseline"] = c.baseline ? nlohmann::json(c.baseline->string()) : nlohmann::json(nullptr);
  j["paired_alpha"] = effective_paired_alpha(c);
  j["agree_with"] = c.agree_with ? nlohmann::json(c.agree_with->string()) : nlohmann::json(nullptr);
  j["min_agreement"] = c.min_agreement;
  j["max_error_rate"] = c.max_error_rate;
  j["resume"] = c.resume;
  return j;
}

}  // namespace mxg::probe
