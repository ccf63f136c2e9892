#include "exporters/wavefront/tag_trimmer.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace kubemetrics::exporters::wavefront {
namespace {

TEST(WavefrontTagTrimmerTest, GlobMatchesTheWholeKey) {
  EXPECT_TRUE(globMatch("label?pod?template*", "label.pod-template-hash"));
  EXPECT_TRUE(globMatch("label?pod?template*", "label.pod-template"));
  EXPECT_FALSE(globMatch("label?pod?template*", "xlabel.pod-template-hash"));
  EXPECT_TRUE(globMatch("hostname", "hostname"));
  EXPECT_FALSE(globMatch("hostname", "hostname2"));
  EXPECT_TRUE(globMatch("*-hash", "label.controller-revision-hash"));
  EXPECT_TRUE(globMatch("a*b*c", "aXbYbZc"));
  EXPECT_FALSE(globMatch("a*b*c", "aXbYbZ"));
  EXPECT_TRUE(globMatch("*", ""));
  EXPECT_FALSE(globMatch("?", ""));
}

TEST(WavefrontTagTrimmerTest, ExcludedUsesEveryPattern) {
  const TagTrimmer trimmer({"pod_id", "label?controller?revision*"});
  EXPECT_TRUE(trimmer.excluded("pod_id"));
  EXPECT_TRUE(trimmer.excluded("label.controller-revision-hash"));
  EXPECT_FALSE(trimmer.excluded("pod_name"));
  EXPECT_FALSE(TagTrimmer({}).excluded("pod_id"));
}

class TrimFixture {
 public:
  explicit TrimFixture(std::vector<std::pair<std::string, std::string>> tags) {
    LabelsBuilder builder;
    for (const auto& [k, v] : tags) builder.set(k, v);
    labels_ = builder.build();
    for (const Label& label : labels_) pointers.push_back(&label);
  }
  std::vector<std::string> keys() const {
    std::vector<std::string> out;
    for (const Label* label : pointers) out.emplace_back(label->name.view());
    return out;
  }
  std::vector<const Label*> pointers;

 private:
  Labels labels_;
};

TEST(WavefrontTagTrimmerTest, WithinTheLimitNothingGoes) {
  TrimFixture tags({{"a", "-"}, {"label.x", "same-value"}, {"label.y", "same-value"}});
  TrimCounts counts{};
  TagTrimmer({}).trim(tags.pointers, 3, counts);
  EXPECT_EQ(tags.pointers.size(), 3u);
  EXPECT_EQ(counts, TrimCounts{});
}

TEST(WavefrontTagTrimmerTest, DuplicateValuesKeepTheReleasedThenShortestKey) {
  TrimFixture tags({{"label.beta.kubernetes.io/os", "linux-os"},
                    {"label.kubernetes.io/os", "linux-os"},
                    {"label.os", "linux-os"},
                    {"label.short", "four"},
                    {"label.other", "four"},
                    {"node", "linux-os"}});
  TrimCounts counts{};
  TagTrimmer({}).trim(tags.pointers, 5, counts);
  // Every duplicate goes; values under 5 characters and tags that are not
  // label.* are not compared.
  EXPECT_EQ(tags.keys(),
            (std::vector<std::string>{"label.os", "label.other", "label.short", "node"}));
  EXPECT_EQ(counts[static_cast<std::size_t>(TrimReason::kDuplicateValue)], 2u);
}

TEST(WavefrontTagTrimmerTest, NonLabelTagsAreNeverTrimmed) {
  TrimFixture tags({{"a", "1"}, {"b", "2"}, {"c", "3"}, {"label.x", "4"}});
  TrimCounts counts{};
  TagTrimmer({}).trim(tags.pointers, 2, counts);
  EXPECT_EQ(tags.keys(), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(counts[static_cast<std::size_t>(TrimReason::kLabelPriority)], 1u);
}

TEST(WavefrontTagTrimmerTest, PlaceholderValuesGoFirstWhateverTheKey) {
  TrimFixture tags({{"a", "-"}, {"b", "/"}, {"label.x", "1"}, {"label.y", "2"}});
  TrimCounts counts{};
  TagTrimmer({}).trim(tags.pointers, 3, counts);
  EXPECT_EQ(tags.keys(), (std::vector<std::string>{"label.x", "label.y"}));
  EXPECT_EQ(counts[static_cast<std::size_t>(TrimReason::kEmptyValue)], 2u);
}

}  // namespace
}  // namespace kubemetrics::exporters::wavefront
