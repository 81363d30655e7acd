// Prompt templates (editable text files) and the parsing of replies.
//
// A template is UTF-8 text with {{placeholders}}. Lines "### system" / "### user" / "### assistant"
// start a message of that role; text before the first such line (or a template without any) is one
// user message. Defaults are compiled in from resources/prompts/NAME.txt; a user copy overrides them:
// first the folder given with --prompts DIR (or in the GUI), then $XDG_CONFIG_HOME/headlight/prompts.
// Placeholders — explainer: token, positive_examples, negative_examples, neuron, head;
// classifier: token, explanation, context, neuron, head; detector: token, explanation, contexts,
// count, neuron, head. An unknown placeholder is an error.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <QString>

#include "core/llm/llm_client.h"

namespace headlight::llm {

struct PromptTemplate {
    std::string name;    // "explainer" or "classifier"
    std::string text;    // the template as written
    std::string source;  // "built-in" or the file it came from

    // Replaces every {{name}} (spaces inside the braces allowed). Throws headlight::Error naming the
    // template and the placeholder when a placeholder has no value or is unterminated.
    std::string render(const std::map<std::string, std::string>& values) const;
    // render(), split into chat messages at "### role" lines; empty messages are dropped.
    std::vector<ChatMessage> renderMessages(const std::map<std::string, std::string>& values) const;
};

// The compiled-in default of `name` ("explainer", "classifier"); throws headlight::Error if unknown.
PromptTemplate builtInTemplate(const std::string& name);
// $XDG_CONFIG_HOME/headlight/prompts (QStandardPaths::GenericConfigLocation + "/headlight/prompts").
QString userTemplateDirectory();
// The template `name`: DIR/NAME.txt if `directory` is given and holds it, else the user folder's
// NAME.txt, else the built-in one. An unreadable or non-UTF-8 file is an error.
PromptTemplate loadTemplate(const std::string& name, const QString& directory = {});

// Removes reasoning: every <think>...</think> block, an unterminated "...</think>" at the start (the
// opening tag was in the prompt) and an unterminated "<think>..." at the end; trims whitespace.
std::string stripReasoning(const std::string& reply);
// The classifier's answer: the reply without reasoning, whitespace and punctuation at both ends,
// case-insensitively "yes" -> true, "no" -> false; anything else -> empty (invalid, never guessed).
std::optional<bool> parseYesNo(const std::string& reply);
// Rough size of a text in tokens: UTF-8 bytes / 4, rounded up (for --dry-run estimates only).
int64_t estimateTokens(const std::string& text);

}  // namespace headlight::llm
