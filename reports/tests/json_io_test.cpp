// Tests of the JSON form: exact round trips (NaN included), non-finite spelling, schema, errors.
#include <bit>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <limits>
#include <random>

#include <gtest/gtest.h>

#include "kernels/common/errors.hpp"
#include "reports/json_io.hpp"
#include "reports/tests/fixtures.hpp"

namespace mxg::report {
namespace {

using testing::expect_same_run;
using testing::fresh_temp_dir;
using testing::same_bits;
using testing::sample_run;

double through_text(double x) {
  const std::string text = dump_json(Json{{"x", double_to_json(x)}});
  return double_from_json(Json::parse(text).at("x"), "x");
}

TEST(DoubleJson, RandomFiniteBitPatternsRoundTripExactly) {
  std::mt19937_64 rng(7);
  int checked = 0;
  while (checked < 20000) {
    const double x = std::bit_cast<double>(rng());
    if (!std::isfinite(x)) continue;
    ASSERT_TRUE(same_bits(through_text(x), x)) << std::hexfloat << x;
    ++checked;
  }
}

TEST(DoubleJson, EdgeValuesRoundTripExactly) {
  const auto lim = std::numeric_limits<double>{};
  for (double x : {0.0, -0.0, 0.1, 1.0 / 3.0, 1e-30, 2.5e-2, lim.min(), lim.denorm_min(), lim.max(), -lim.max(),
                   lim.epsilon()}) {
    EXPECT_TRUE(same_bits(through_text(x), x)) << std::hexfloat << x;
  }
}

TEST(DoubleJson, NonFiniteValuesAreNamedStrings) {
  const double inf = std::numeric_limits<double>::infinity();
  EXPECT_EQ(double_to_json(std::numeric_limits<double>::quiet_NaN()), Json("NaN"));
  EXPECT_EQ(double_to_json(inf), Json("Infinity"));
  EXPECT_EQ(double_to_json(-inf), Json("-Infinity"));
  EXPECT_TRUE(std::isnan(through_text(std::numeric_limits<double>::quiet_NaN())));
  EXPECT_EQ(through_text(inf), inf);
  EXPECT_EQ(through_text(-inf), -inf);
}

TEST(DoubleJson, OtherStringsAndNullAreRejectedNamingTheField) {
  for (const Json& bad : {Json("nan"), Json("inf"), Json(nullptr), Json(true), Json::array()}) {
    try {
      (void)double_from_json(bad, "nmse");
      ADD_FAILURE() << "accepted " << bad.dump();
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find("'nmse'"), std::string::npos) << e.what();
    }
  }
}

TEST(ReportDocument, RoundTripsTheWholeRunIncludingNaNMetrics) {
  const RunSummary run = sample_run();
  const std::string text = dump_json(report_document(run), 2);
  // The NaN CAUGHT result is spelt as strings, never as a bare NaN token (invalid JSON).
  EXPECT_NE(text.find("\"nmse\": \"NaN\""), std::string::npos);
  EXPECT_EQ(text.find("NaN,"), std::string::npos);
  const RunSummary back = run_from_report_document(Json::parse(text));
  expect_same_run(run, back);
}

TEST(ReportDocument, StartsWithTheSchemaAndCarriesTheTotals) {
  const RunSummary run = sample_run();
  const Json doc = report_document(run);
  ASSERT_TRUE(doc.is_object());
  EXPECT_EQ(doc.begin().key(), "schema");
  EXPECT_EQ(doc.at("schema"), "mxguard-report/1");
  const Json& totals = doc.at("totals");
  // fixtures.hpp: PASS 3, CAUGHT 3, FAIL 1, BLIND 1, ERROR 1, SKIPPED 1, margin 4e-5 / 5e-6.
  EXPECT_EQ(totals.at("counts"), Json::parse(R"({"PASS":3,"CAUGHT":3,"FAIL":1,"BLIND":1,"ERROR":1,"SKIPPED":1})"));
  EXPECT_DOUBLE_EQ(totals.at("margin").get<double>(), 4e-5 / 5e-6);
  EXPECT_EQ(totals.at("exit_code"), 1);
  EXPECT_EQ(totals.at("mutants_killed"), 1);
  EXPECT_EQ(totals.at("mutants_total"), 2);
  const Totals read_back = totals.get<Totals>();
  EXPECT_EQ(read_back.counts.at(Verdict::Caught), 3);
  EXPECT_EQ(read_back.exit_code, 1);
}

TEST(ReportDocument, UndefinedMarginIsNull) {
  RunSummary run;
  const Json doc = report_document(run);
  EXPECT_TRUE(doc.at("totals").at("margin").is_null());
  EXPECT_FALSE(doc.at("totals").get<Totals>().margin.has_value());
}

TEST(ReportDocument, RejectsAnotherSchema) {
  Json doc = report_document(sample_run());
  doc["schema"] = "mxguard-report/2";
  try {
    (void)run_from_report_document(doc);
    FAIL() << "accepted schema 2";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("mxguard-report/2"), std::string::npos) << e.what();
  }
}

TEST(ReportDocument, MissingOrMistypedNestedFieldIsNamedByPath) {
  Json doc = report_document(sample_run());
  doc["results"][2]["metrics"].erase("cosine");
  try {
    (void)run_from_report_document(doc);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_STREQ(e.what(), "field 'results[2].metrics.cosine': missing");
  }
  doc = report_document(sample_run());
  doc["results"][0]["verdict"] = "OK";
  try {
    (void)run_from_report_document(doc);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("field 'results[0].verdict': expected one of PASS"), std::string::npos)
        << e.what();
  }
  doc = report_document(sample_run());
  doc["results"][1]["tokens"] = 1.5;
  try {
    (void)run_from_report_document(doc);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("field 'results[1].tokens': expected a 64-bit signed integer"),
              std::string::npos)
        << e.what();
  }
}

TEST(ReportDocument, UnknownKeysAreIgnored) {
  Json doc = report_document(sample_run());
  doc["added_in_a_later_minor_version"] = 1;
  doc["results"][0]["also_new"] = "x";
  expect_same_run(sample_run(), run_from_report_document(doc));
}

TEST(ReportDocument, InvalidUtf8IsReplacedNotThrown) {
  RunSummary run = sample_run();
  run.results[0].message = "stderr: \xff\xfe bytes";
  const std::string text = dump_json(report_document(run));
  const RunSummary back = run_from_report_document(Json::parse(text));
  EXPECT_EQ(back.results[0].message, "stderr: \xEF\xBF\xBD\xEF\xBF\xBD bytes");
}

TEST(ReportFile, WriteThenReadGivesTheSameRunAndLeavesNoTemporaryFile) {
  const auto dir = fresh_temp_dir("report-file");
  const auto path = dir / "report.json";
  write_report_json(path, sample_run());
  expect_same_run(sample_run(), read_report_json(path));
  std::size_t entries = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir)) ++entries;
  EXPECT_EQ(entries, 1u);
  std::filesystem::remove_all(dir);
}

TEST(ReportFile, ErrorsNameTheFile) {
  const auto dir = fresh_temp_dir("report-errors");
  const auto missing = dir / "absent.json";
  EXPECT_THROW(
      {
        try {
          (void)read_report_json(missing);
        } catch (const InputError& e) {
          EXPECT_NE(std::string(e.what()).find(missing.string()), std::string::npos) << e.what();
          throw;
        }
      },
      InputError);
  const auto broken = dir / "broken.json";
  std::ofstream(broken) << "{\"schema\": ";
  try {
    (void)read_report_json(broken);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(broken.string() + ": not valid JSON"), std::string::npos) << e.what();
  }
  EXPECT_THROW(write_report_json(dir / "no-such-dir" / "report.json", sample_run()), InputError);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace mxg::report
