// Generated GSM8K-format word problems: five templates with worked answers, calculator annotations
// and a final "#### N" line, drawn from a splitmix64 stream so the set is identical on every platform.
#include "harness/probe/gsm8k_synth.hpp"

#include <array>
#include <cstdlib>
#include <string_view>
#include <unordered_set>

#include <fmt/format.h>

#include "kernels/common/errors.hpp"
#include "kernels/common/splitmix64.hpp"

namespace mxg::probe {
namespace {

// Some names and places are non-ASCII on purpose: the writer must escape them and the prompt must
// carry them through unchanged.
constexpr std::array<std::string_view, 16> kNames{"Tom",  "Maria", "Zoë",   "Ahmed", "Ling",   "José",
                                                   "Priya", "Ben",  "Renée", "Kofi",  "Søren", "Ana",
                                                   "Yuki",  "Omar", "Chloé", "Sam"};
constexpr std::array<std::string_view, 6> kItems{"apples", "pencils", "stickers", "marbles", "shells", "stamps"};
constexpr std::array<std::string_view, 4> kStreets{"Main Street", "Rue de la Paix", "Königsallee", "Harbour Road"};
constexpr std::array<std::string_view, 5> kTowns{"Tromsø", "Oslo", "Zürich", "Calgary", "Helsinki"};

// Uniform draws from splitmix64 by modulo: the bias (range / 2^64) is irrelevant here, and unlike the
// <random> distributions the mapping is fixed by this code, so every platform gets the same set.
struct Draw {
  SplitMix64 stream;
  std::int64_t in(std::int64_t lo, std::int64_t hi) {  // inclusive
    return lo + static_cast<std::int64_t>(stream.next() % static_cast<std::uint64_t>(hi - lo + 1));
  }
  template <typename Array>
  std::string_view pick(const Array& options) {
    return options[static_cast<std::size_t>(in(0, static_cast<std::int64_t>(options.size()) - 1))];
  }
};

// The "#### N" label as GSM8K writes it: thousands separated by commas from 1,000 on.
std::string label_text(std::int64_t value) {
  const std::string digits = std::to_string(std::llabs(value));
  std::string out = value < 0 ? "-" : "";
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

Gsm8kItem buy_bags(Draw& d) {  // small labels
  const std::string_view name = d.pick(kNames);
  const std::string_view item = d.pick(kItems);
  const std::int64_t have = d.in(2, 40), bags = d.in(2, 9), per_bag = d.in(2, 12);
  const std::int64_t bought = bags * per_bag, total = have + bought;
  return {fmt::format("{0} has {1} {2} and buys {3} bags of {4} {2} each. How many {2} does {0} have now?", name,
                      have, item, bags, per_bag),
          fmt::format("{0} buys {1}*{2}=<<{1}*{2}={3}>>{3} {4}.\nNow {0} has {5}+{3}=<<{5}+{3}={6}>>{6} {4}.\n#### {7}",
                      name, bags, per_bag, bought, item, have, total, label_text(total))};
}

Gsm8kItem cafe_takings(Draw& d) {  // labels mostly >= 1000, non-ASCII text
  const std::string_view street = d.pick(kStreets);
  const std::int64_t cups = d.in(40, 400), price = d.in(2, 9), days = d.in(5, 60);
  const std::int64_t per_day = cups * price, total = per_day * days;
  return {fmt::format("The café on {} sells {} cups of coffee a day at €{} each. How many euros does the café "
                      "take in over {} days?",
                      street, cups, price, days),
          fmt::format("Each day the café takes in {0}*{1}=<<{0}*{1}={2}>>{2} euros.\nOver {3} days it takes in "
                      "{2}*{3}=<<{2}*{3}={4}>>{4} euros.\n#### {5}",
                      cups, price, per_day, days, total, label_text(total))};
}

Gsm8kItem falling_temperature(Draw& d) {  // the negative labels
  const std::string_view town = d.pick(kTowns);
  const std::int64_t start = d.in(-5, 20), step = d.in(2, 6), hours = d.in(2, 8);
  const std::int64_t fall = step * hours, end = start - fall;
  return {fmt::format("At noon the temperature in {} was {} degrees. It fell by {} degrees every hour for {} "
                      "hours. What was the temperature after that?",
                      town, start, step, hours),
          fmt::format("It fell {0}*{1}=<<{0}*{1}={2}>>{2} degrees in total.\nThe temperature was "
                      "{3}-{2}=<<{3}-{2}={4}>>{4} degrees.\n#### {5}",
                      step, hours, fall, start, end, label_text(end))};
}

Gsm8kItem shared_cookies(Draw& d) {  // division, small labels
  const std::string_view name = d.pick(kNames);
  const std::int64_t friends = d.in(2, 9), each = d.in(3, 20);
  const std::int64_t eaten = d.in(1, each - 1), baked = friends * each, left = each - eaten;
  return {fmt::format("{} baked {} cookies and shared them equally among {} friends. Each friend then ate {} of "
                      "them. How many cookies does each friend have left?",
                      name, baked, friends, eaten),
          fmt::format("Each friend got {0}/{1}=<<{0}/{1}={2}>>{2} cookies.\nEach friend has "
                      "{2}-{3}=<<{2}-{3}={4}>>{4} cookies left.\n#### {5}",
                      baked, friends, each, eaten, left, label_text(left))};
}

Gsm8kItem factory_output(Draw& d) {  // three steps, labels up to 468,000
  const std::int64_t per_shift = d.in(20, 500), shifts = d.in(2, 3), days = d.in(4, 6), weeks = d.in(2, 52);
  const std::int64_t per_day = per_shift * shifts, per_week = per_day * days, total = per_week * weeks;
  return {fmt::format("A factory makes {} widgets per shift and runs {} shifts a day, {} days a week. How many "
                      "widgets does it make in {} weeks?",
                      per_shift, shifts, days, weeks),
          fmt::format("It makes {0}*{1}=<<{0}*{1}={2}>>{2} widgets a day.\nIt makes {2}*{3}=<<{2}*{3}={4}>>{4} "
                      "widgets a week.\nIn {5} weeks it makes {4}*{5}=<<{4}*{5}={6}>>{6} widgets.\n#### {7}",
                      per_shift, shifts, per_day, days, per_week, weeks, total, label_text(total))};
}

Gsm8kItem one_item(Draw& d) {
  // Template shares (percent): bags 30, café 20, temperature 6, cookies 24, factory 20.
  const std::int64_t roll = d.in(0, 99);
  if (roll < 30) return buy_bags(d);
  if (roll < 50) return cafe_takings(d);
  if (roll < 56) return falling_temperature(d);
  if (roll < 80) return shared_cookies(d);
  return factory_output(d);
}

// Far more draws in a row than a set of this generator's ~10^6 distinct questions ever needs: only a
// request for more questions than the templates can make gets here.
constexpr int kMaxRedraws = 10000;

}  // namespace

std::vector<Gsm8kItem> generate_gsm8k(std::size_t n, std::uint64_t seed) {
  Draw draw{SplitMix64{seed}};
  std::vector<Gsm8kItem> items;
  items.reserve(n);
  std::unordered_set<std::string> seen;
  int redraws = 0;
  while (items.size() < n) {
    Gsm8kItem item = one_item(draw);
    if (!seen.insert(item.question).second) {
      if (++redraws > kMaxRedraws) {
        throw InputError(fmt::format("gsm8k generator: n: more distinct questions than the templates make ({})", n));
      }
      continue;
    }
    redraws = 0;
    items.push_back(std::move(item));
  }
  return items;
}

}  // namespace mxg::probe
