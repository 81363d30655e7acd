// Step 4 (METHOD.md section 4): one zero-shot chat request per relevant (neuron, head). Positive
// examples = the neuron's kept contexts where the head is active, negative = the other kept contexts,
// each shown as the context text with the neuron's token appended (newlines shown as spaces), in
// descending activation order. The rendered prompt, the model id, the parameters and the raw reply are
// stored in the record; the explanation is the reply with reasoning (<think>...</think>) stripped.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/base/progress.h"
#include "core/llm/llm_client.h"
#include "core/llm/prompts.h"
#include "core/study/study.h"

namespace headlight::explain {

// One (neuron, head) to explain: index into Study::neurons and flat head index.
struct ExplainTarget {
    int neuronIndex = 0;
    int head = 0;
};
// Every relevant head of every neuron (real first, then baseline neurons, as stored), heads ascending.
std::vector<ExplainTarget> relevantTargets(const Study& study);

// The contexts the method uses (kept), in descending activation order (ties: ascending document).
std::vector<const NeuronContext*> keptContexts(const NeuronResult& neuron);
// How a context is shown to a model: its text with the token appended, newlines as spaces.
std::string showContext(const std::string& text, const std::string& token);

struct ExplainerSettings {
    int maxTokens = 200;                 // paper: 200
    std::optional<double> temperature;   // empty: the server's default (paper)
    llm::PromptTemplate promptTemplate = llm::builtInTemplate("explainer");
};

// The placeholder values and the request of one target.
std::map<std::string, std::string> explainerValues(const Study& study, const NeuronResult& neuron, int head);
llm::ChatRequest explainerRequest(const Study& study, const NeuronResult& neuron, int head, const ExplainerSettings& settings);
// "### user\n..." form of a message list (how prompts are stored).
std::string promptText(const std::vector<llm::ChatMessage>& messages);

// Step 4: explains every target with `client`. A request that fails for good gives a record with
// `error` set and no explanation; throws headlight::Cancelled when cancelled. `parameters` records the
// parameters as sent (e.g. max_completion_tokens for a server that refused max_tokens); `reply` keeps
// reasoning a server returned apart (reasoning_content) as a leading <think>...</think> block.
std::vector<HeadExplanation> explainWithLlm(const Study& study, const std::vector<ExplainTarget>& targets,
                                            llm::LlmClient& client, const ExplainerSettings& settings,
                                            const Progress& progress = {});

// Puts `records` into study.explanations, replacing entries of the same (neuron, baseline flag, head,
// source); the result is ordered by neuron (study order), head, then source. A replaced record whose
// model and explanation text are unchanged passes its tests and score on to the new one.
void mergeExplanations(Study& study, std::vector<HeadExplanation> records);

}  // namespace headlight::explain
