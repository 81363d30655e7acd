// Placeholder until the tokenizer lands.
#include "core/model/tokenizer.h"

#include "core/base/error.h"

namespace headlight {
struct Tokenizer::Impl {};
Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;
Tokenizer Tokenizer::fromTokenizerJson(const QString&) { throw Error("tokenizer not implemented"); }
Tokenizer Tokenizer::fromVocabMerges(const QString&, const QString&) { throw Error("tokenizer not implemented"); }
Tokenizer Tokenizer::fromFolder(const QString&) { throw Error("tokenizer not implemented"); }
Encoding Tokenizer::encode(const QString&) const { return {}; }
Encoding Tokenizer::encodeUtf8(const std::string&) const { return {}; }
QString Tokenizer::decode(const std::vector<int>&, bool) const { return {}; }
QString Tokenizer::tokenString(int) const { return {}; }
QString Tokenizer::tokenText(int) const { return {}; }
std::optional<int> Tokenizer::tokenId(const QString&) const { return {}; }
int Tokenizer::vocabSize() const { return 0; }
bool Tokenizer::isSpecial(int) const { return false; }
std::optional<int> Tokenizer::bosTokenId() const { return {}; }
bool Tokenizer::postProcessorAddsBos() const { return false; }
QString Tokenizer::wordBoundaryMarker() const { return {}; }
std::string Tokenizer::kind() const { return {}; }
QString Tokenizer::source() const { return {}; }
}  // namespace headlight
