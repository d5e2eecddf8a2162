"""The built-in training text for the tiny byte-level BPE tokenizer.

Hand-written, a few KB, deliberately mixed: English prose and chat phrases, Chinese, Japanese,
Korean, European languages with accents, Cyrillic, Arabic, emoji, Python and JSON with indentation
and newlines, numbers and markup. Byte-level BPE can encode any text regardless; the corpus only
decides which merges exist, so that common words become single tokens and tests see realistic
multi-token words, multi-byte characters split across tokens, and whitespace runs.
"""

from __future__ import annotations

CORPUS: tuple[str, ...] = (
    """You are a helpful assistant. The user asks a question and the assistant answers it.
System: be concise and accurate. User: What is the capital of France? Assistant: The capital of France is Paris.
User: Can you help me write a function that adds two numbers? Assistant: Of course! Here is a small function.
The quick brown fox jumps over the lazy dog. A journey of a thousand miles begins with a single step.
Machine learning models are trained on data; fine-tuning adapts a pretrained model to a new task.
The tokenizer splits text into tokens, and the model predicts the next token given the previous ones.
Please think step by step before you answer, then give the final answer in one sentence.
I don't know the answer, but I can look it up. It's a sunny day; let's go for a walk in the park.
Tool calls let the assistant use external functions such as get_weather, search, or calculator.
The weather in London today is cloudy with a chance of rain, and the temperature is 15 degrees.
Dear team, thank you for your work this week. Best regards, and see you on Monday!
    Indented line with four spaces.
\tTabbed line.   Trailing spaces here.\x20\x20\x20
Numbers: 0 1 2 3 4 5 6 7 8 9 10 42 100 256 1024 2048 3.14159 -7 1e-5 2024-07-26 12:00:00.
Punctuation: ( ) [ ] { } < > ! ? . , ; : ' " ` ~ @ # $ % ^ & * - _ + = / \\ | ...
""",
    """你好，世界！我是一个乐于助人的助手。请问有什么可以帮您？
今天天气很好，我们去公园散步吧。机器学习模型需要大量的数据进行训练。
中华人民共和国的首都是北京。长城是世界上最长的建筑之一。
请一步一步地思考，然后给出最终答案。谢谢你的帮助！
こんにちは、世界。私は学生です。東京は日本の首都です。ありがとうございます。
안녕하세요, 세계! 저는 도우미입니다. 서울은 한국의 수도입니다. 감사합니다.
""",
    """Bonjour le monde ! Ça va très bien, merci. L'élève a déjà étudié à l'école.
Hallo Welt! Größe, Übung, schön, Straße. Die Katze schläft auf dem Sofa.
¡Hola mundo! ¿Cómo estás? El niño comió una manzana. Açaí, coração, não.
Привет, мир! Как дела? Москва — столица России. Спасибо большое.
مرحبا بالعالم! كيف حالك؟ شكرا جزيلا.
Γειά σου κόσμε! Ευχαριστώ πολύ. नमस्ते दुनिया! धन्यवाद।
""",
    """Emoji: 😀 😂 🥹 😍 🤔 👍 👋 🎉 🚀 🔥 ✨ ❤️ 💡 ✅ ❌ ⚠️ 🌍 🐍 🤖 👨‍👩‍👧‍👦 🏳️‍🌈 🇫🇷 🇯🇵
Great job! 🎉🎉 Let's ship it 🚀 — thanks 🙏. Math: ∑ ∫ √2 ≈ 1.414, π ≈ 3.14, α β γ δ, x² + y² = z², ∞ ≠ 0.
""",
    '''def add(a: int, b: int) -> int:
    """Return the sum of a and b."""
    return a + b


class Greeter:
    def __init__(self, name: str) -> None:
        self.name = name

    def greet(self) -> str:
        return f"Hello, {self.name}!"


for i in range(10):
    if i % 2 == 0:
        print(i, add(i, 1))
    else:
        continue

import json
data = json.loads('{"name": "get_weather", "arguments": {"location": "Paris", "unit": "celsius"}}')
''',
    """{
  "type": "function",
  "function": {
    "name": "get_current_weather",
    "description": "Get the current weather in a given location",
    "parameters": {
      "type": "object",
      "properties": {
        "location": {"type": "string", "description": "The city and state, e.g. San Francisco, CA"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}
      },
      "required": ["location"]
    }
  }
}
{"role": "user", "content": "What's the weather like?"}, {"role": "assistant", "content": null, "tool_calls": []}
[{"name": "search", "arguments": {"query": "tiny models", "limit": 5, "exact": true}}]
<html><body><p class="note">Hello &amp; welcome</p></body></html>
# Title\n\n- item one\n- item two\n\n**bold** and _italic_ and `code`.
SELECT id, name FROM users WHERE age > 30 ORDER BY name;
""",
)
"""The training texts; order matters for determinism of the trained merges."""
