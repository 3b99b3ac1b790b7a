"""A reward with variance for GRPO tests (a random tiny model scores 0 on every real reward), loaded by dotted path."""


def character_variety_reward(completions, **kwargs):
    """Number of distinct characters in each completion: varies between random generations."""
    return [float(len(set(completion[0]["content"] if isinstance(completion, list) else completion))) for completion in completions]
