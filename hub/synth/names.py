"""Built-in name lists for synthetic people.

Common UK names, ordered roughly by frequency, so that popular surnames recur across different people
(two unrelated "John Smith"s are exactly what record linkage must cope with). A few names carry accents
or apostrophes to exercise UTF-8 and quoting in every component downstream.
"""

from __future__ import annotations

# fmt: off
MALE_FORENAMES: tuple[str, ...] = (
    "James", "John", "David", "Michael", "Robert", "William", "Richard", "Thomas", "Christopher", "Daniel",
    "Matthew", "Andrew", "Paul", "Mark", "Steven", "Anthony", "Joseph", "Peter", "Kevin", "Ryan", "Liam",
    "Jack", "Harry", "Oliver", "Charlie", "George", "Callum", "Connor", "Kyle", "Jordan", "Lewis", "Nathan",
    "Jamie", "Adam", "Luke", "Samuel", "Benjamin", "Alexander", "Edward", "Mohammed", "Ali", "Tyler", "Reece",
    "Dean", "Craig", "Wayne", "Gary", "Lee", "Darren", "Stuart", "Ian", "Neil", "Martin", "Simon", "Graham",
    "Keith", "Dylan", "Kai", "Seán", "Jakub", "Tomasz", "Emeka", "Kwame",
)
# fmt: on

# fmt: off
FEMALE_FORENAMES: tuple[str, ...] = (
    "Sarah", "Emma", "Laura", "Rebecca", "Jessica", "Charlotte", "Hannah", "Sophie", "Chloe", "Amy", "Lauren",
    "Emily", "Olivia", "Amelia", "Elizabeth", "Mary", "Isla", "Ava", "Grace", "Ruby", "Ellie", "Megan",
    "Jade", "Danielle", "Natalie", "Kelly", "Claire", "Lisa", "Michelle", "Nicola", "Karen", "Susan", "Julie",
    "Joanne", "Donna", "Tracey", "Amanda", "Helen", "Katherine", "Victoria", "Samantha", "Jennifer",
    "Margaret", "Patricia", "Deborah", "Stacey", "Leanne", "Gemma", "Kirsty", "Aisha", "Fatima", "Zoë",
    "Siân", "Niamh", "Caitlin", "Abigail", "Alice", "Lucy", "Georgia", "Agnieszka", "Chiamaka",
)
# fmt: on

# fmt: off
SURNAMES: tuple[str, ...] = (
    "Smith", "Jones", "Williams", "Taylor", "Brown", "Davies", "Evans", "Wilson", "Thomas", "Johnson",
    "Roberts", "Robinson", "Thompson", "Wright", "Walker", "White", "Edwards", "Hughes", "Green", "Hall",
    "Lewis", "Harris", "Clarke", "Patel", "Jackson", "Wood", "Turner", "Martin", "Cooper", "Hill", "Ward",
    "Morris", "Moore", "Clark", "Lee", "King", "Baker", "Harrison", "Morgan", "Allen", "James", "Scott",
    "Phillips", "Watson", "Davis", "Parker", "Price", "Bennett", "Young", "Griffiths", "Mitchell", "Kelly",
    "Cook", "Carter", "Richardson", "Bailey", "Collins", "Bell", "Shaw", "Murphy", "Miller", "Cox",
    "Richards", "Khan", "Marshall", "Anderson", "Simpson", "Ellis", "Adams", "Singh", "Begum", "Wilkinson",
    "Foster", "Chapman", "Powell", "Webb", "Rogers", "Gray", "Mason", "Ali", "Hunt", "Hussain", "Campbell",
    "Matthews", "Owen", "Palmer", "Holmes", "Mills", "Barnes", "Knight", "Lloyd", "Butler", "Russell",
    "Barker", "Fisher", "Stevens", "Jenkins", "Murray", "Dixon", "Harvey", "Graham", "Pearson", "Ahmed",
    "Fletcher", "Walsh", "Kaur", "Gibson", "Howard", "Andrews", "Stewart", "Elliott", "Reynolds", "Saunders",
    "Payne", "Fox", "Ford", "Pearce", "Day", "Brooks", "West", "Lawrence", "Cole", "Atkinson", "Bradley",
    "Spencer", "Gill", "Dawson", "Ball", "Burton", "O'Brien", "Watts", "Rose", "Booth", "Perry", "Ryan",
    "Grant", "Wells", "Armstrong", "Francis", "Rees", "Hayes", "Hart", "Hudson", "Newman", "Barrett",
    "Webster", "Hunter", "Gregory", "Carr", "Lowe", "Page", "Marsh", "Riley", "Dunn", "Woods", "Parsons",
    "Berry", "Stone", "Reid", "Holland", "Hawkins", "Harding", "Porter", "Robertson", "Newton", "Oliver",
    "Reed", "Kennedy", "Williamson", "Bird", "Gardner", "Shah", "Bishop", "O'Connor", "McDonald", "Nowak",
    "Kowalski", "Okafor", "Mensah", "Öztürk",
)
# fmt: on

# Formal forename -> informal forms people give or officers record.
# fmt: off
NICKNAMES: dict[str, tuple[str, ...]] = {
    "William": ("Bill", "Will", "Billy"), "Robert": ("Bob", "Rob", "Bobby"),
    "Richard": ("Rick", "Rich", "Dick"), "Thomas": ("Tom", "Tommy"), "Christopher": ("Chris",),
    "Daniel": ("Dan", "Danny"), "Matthew": ("Matt",), "Andrew": ("Andy", "Drew"), "Michael": ("Mike", "Mick"),
    "Anthony": ("Tony", "Ant"), "Joseph": ("Joe", "Joey"), "Peter": ("Pete",), "Steven": ("Steve", "Stephen"),
    "James": ("Jim", "Jimmy"), "John": ("Jack", "Johnny"), "David": ("Dave", "Davey"),
    "Samuel": ("Sam", "Sammy"), "Benjamin": ("Ben",), "Alexander": ("Alex", "Xander"),
    "Edward": ("Ed", "Eddie", "Ted"), "Nathan": ("Nate",), "Mohammed": ("Muhammad", "Mohammad", "Mo"),
    "Callum": ("Cal",), "Jakub": ("Kuba",), "Tomasz": ("Tomek",), "Elizabeth": ("Liz", "Beth", "Lizzie"),
    "Katherine": ("Kate", "Kathy", "Katie", "Catherine"), "Rebecca": ("Becky", "Becca"), "Jessica": ("Jess",),
    "Charlotte": ("Charlie", "Lottie"), "Samantha": ("Sam", "Sammie"), "Jennifer": ("Jen", "Jenny"),
    "Margaret": ("Maggie", "Peggy"), "Patricia": ("Pat", "Trish"), "Deborah": ("Debbie", "Debra"),
    "Victoria": ("Vicky", "Tori"), "Abigail": ("Abbie", "Abi"), "Nicola": ("Nicky", "Nikki"),
    "Amanda": ("Mandy",), "Susan": ("Sue",), "Joanne": ("Jo",), "Danielle": ("Dani",), "Natalie": ("Nat",),
    "Megan": ("Meg",), "Agnieszka": ("Aga",),
}
# fmt: on
