package difftest

// AllScenarios is every scripted scenario, in the order they run. Order
// matters only where a scenario lists what the cluster holds (all topics,
// all groups): those filter to their own names.
func AllScenarios() []Scenario {
	var all []Scenario
	for _, group := range [][]Scenario{
		metaScenarios(),
		topicScenarios(),
		produceScenarios(),
		fetchScenarios(),
		fetchSessionScenarios(),
		groupScenarios(),
		consumerGroupScenarios(),
		configScenarios(),
		adminScenarios(),
		txnScenarios(),
		lastScenarios(),
	} {
		all = append(all, group...)
	}
	return all
}
